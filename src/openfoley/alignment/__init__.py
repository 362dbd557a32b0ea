"""Modality-aware masking alignment (MMA, sec. 3.2) and selective key frames (sec. 3.3).

    masks.py        dynamic modality-specific masks: audio spans, video singles + clips (True = visible)
    transformer.py  one cross-modal transformer over [video; audio] on one seconds axis
    mma.py          the two masked-prediction sums of Eq. 5, their loss, aligned video features
    keyframes.py    saliency (motion energy + scene change) and a budget of key frames with true times
"""
