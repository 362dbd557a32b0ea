"""The sound bank: real recorded sound effects from Debian packages, as labelled 16 kHz event clips.

Modules, in pipeline order:

    packages.py     fetch .debs (apt-get download or --from), dpkg-deb -x, list audio members inside
                    plain folders, zip/pk3 archives and Qt .rcc files (rcc.py); licences from DEP-5
    taxonomy.py     path / file-name / drumkit.xml rules -> (coarse group, fine class); rare-class rule
    process.py      decode, resample to mono, trim silence, loudness-normalise, split events
    fingerprint.py  band-energy-difference fingerprints, bit-error-rate near-duplicate index
    images.py       pictures that come with sounds -> PNG
    build.py        the resumable build; finalise.py writes manifest.jsonl, classes.json, bank.json

See docs/sound-bank.md for the output format, the rules and the measured statistics.
"""

from openfoley.data.soundbank.build import BankSettings, build_sound_bank
from openfoley.data.soundbank.fingerprint import DedupIndex, bit_error_rate, from_hex, to_hex
from openfoley.data.soundbank.packages import PACKAGES
from openfoley.data.soundbank.rcc import iter_rcc, write_rcc

__all__ = [
    "BankSettings", "build_sound_bank", "PACKAGES", "DedupIndex", "bit_error_rate", "to_hex", "from_hex",
    "iter_rcc", "write_rcc",
]
