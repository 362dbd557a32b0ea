import sys, numpy as np
from PIL import Image
d = sys.argv[1]; times = [float(t) for t in sys.argv[2].split(",")]
f = np.load(f"{d}/frames.npy")  # (t, 3, H, W) or (t,H,W,3)
if f.shape[1] == 3: f = f.transpose(0, 2, 3, 1)
rows = []
for t in times:
    c = int(round(t * 25))
    idx = [min(max(c + k, 0), len(f) - 1) for k in range(-4, 5)]
    rows.append(np.concatenate([np.pad(f[i], ((2, 2), (2, 2), (0, 0)), constant_values=255 if i == c else 0) for i in idx], 1))
img = np.concatenate(rows, 0)
Image.fromarray(img.astype(np.uint8)).resize((img.shape[1] * 2, img.shape[0] * 2), Image.NEAREST).save(f"{d}/sheet.png")
print(img.shape)
