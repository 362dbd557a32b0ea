import json, sys
tag, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
below, n, means = [], 0, []
for s in range(a, b + 1):
    for line in open(f"runs/s31/sc-{tag}-{s}.jsonl"):
        r = json.loads(line); means.append(r["f1"])
        for c in r["clips"]:
            n += 1
            if c["f1"] < 0.8:
                below.append(f"{s}/{c['clip']} {c['class']} {c['f1']:.2f} (recording {c['real_f1']:.2f}, video events {c['video_f1']:.2f})")
print(f"{tag} seeds {a}-{b}: mean of seed means {sum(means)/len(means):.3f}, min {min(means):.3f}; {len(below)} of {n} clips below 0.8")
for x in below: print("  " + x)
