"""Open-set benchmark curation (paper section 4.1, appendix A): AudioSet + Panda-70M minus VGGSound.

    ontology.py   the AudioSet ontology DAG: names, descendants, ancestors
    classmap.py   VGGSound classes -> ontology nodes (shipped reviewed table), the label exclusion rule
    audioset.py   streaming, resumable line reader and the AudioSet segment-row parser
    panda.py      Panda-70M row parser and the caption matcher (word-boundary, plural/verb-aware)
    snr.py        blind SNR estimate: loudest frames against the quietest-frame noise floor
    media.py      media lookup and the parallel probe/duration/height/SNR filter
    report.py     stage counts, examples, the printed table
    pipeline.py   ``curate(CurateConfig, out)``: stream, filter, checkpoint, write manifest + report

Rules and their justification: docs/open-set-benchmark.md.
"""

from openfoley.config.tools import CurateConfig, MediaRule
from openfoley.data.curate.pipeline import CurateResult, curate, format_table

__all__ = ["CurateConfig", "CurateResult", "MediaRule", "curate", "format_table"]
