"""Shared neural building blocks: transformer blocks with masks and adaLN, sinusoidal value
embeddings, mel patches and stream timestamps. Used by encoders/, alignment/ and flow/."""
