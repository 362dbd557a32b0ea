import json, sys
from pathlib import Path
for d in sys.argv[1:]:
    for split in ("test-closed", "test-open"):
        for m in sorted(Path(d).glob(f"{split}/full/seed-*/metrics.json")):
            r = json.loads(m.read_text()); et = r["event_time"]
            ratio = et["recall"] / et["precision"] if et["precision"] else float("nan")
            print(f"{d:34s} {split:11s} {m.parent.name:7s} FAD {r['fad']:6.1f} KLD {r['kld']:5.2f} Align {r['align_acc']:.3f} (0.8x real {0.8*r['align_acc_reference']:.3f}) F1 {et['f1']:.3f} onsets/true {ratio:.2f}")
