"""Features: log-mel spectrograms and their inverse (``mel``), and the memory-mapped feature store
that training streams from (``store``). Both sit below ``data``: they know configs and arrays, not
datasets or media files."""
