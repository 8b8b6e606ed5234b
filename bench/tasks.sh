#!/usr/bin/env bash
# The measurements of issue 25 (tasks beyond one label), on datasets built from Fashion-MNIST's
# training images by bench/task_data.py, each scored on a held-out set drawn with another seed:
#   multi-label  default CNN, threshold 0.5 vs --tune-threshold global / per-class
#   regression   the rotation angle: MSE vs L1 vs Huber, against the mean baseline
#   count        squares on clutter: Poisson vs MSE, exact-count accuracy
#   two-class    Sneaker vs Ankle boot: ROC AUC
#   speed        a multi-label epoch against a single-label one on the same images
# Usage: bench/tasks.sh [OUT] [EPOCHS]   (default runs/bench-tasks, 5 epochs; about 20 minutes
# on 2 cores). Needs dataset-fashion-mnist (apt); IMGCLASS names the binary (default: the release build).
set -euo pipefail
out=${1:-runs/bench-tasks}
epochs=${2:-5}
fm=/usr/share/datasets/fashion-mnist
bin=${IMGCLASS:-target/release/imgclass}
[ -x "$bin" ] || cargo build --release -q -p imgclass-cli
mkdir -p "$out"
for task in multi-label regression count; do
    [ -f "$out/data/$task/labels.csv" ] || python3 bench/task_data.py "$task" "$fm" "$out/data/$task" 3000 0
    [ -f "$out/data/$task-eval/labels.csv" ] || python3 bench/task_data.py "$task" "$fm" "$out/data/$task-eval" 1000 1
done
[ -d "$out/data/two-class" ] || python3 bench/task_data.py two-class "$fm" "$out/data/two-class" 3000

train() { # NAME DATA [FLAGS…]: trains into $out/NAME, prints the JSON summary's metrics
    local name=$1 data=$2
    shift 2
    "$bin" train "$data" --epochs "$epochs" --out "$out/$name" --overwrite --json "$@" 2>/dev/null | tail -1
}
evaluate() { # NAME TASK: the held-out metrics of $out/NAME's model
    "$bin" evaluate "$out/$1/model.imgclass" "$out/data/$2-eval" --labels "$out/data/$2-eval/labels.csv" --json
}
pick() { python3 -c "import json,sys; d=json.load(sys.stdin); print(' '.join(f'{k} {d[k]:.4f}' for k in sys.argv[1:]))" "$@"; }

echo "== multi-label ($epochs epochs, default CNN; held-out: 1000 images)"
ml=$out/data/multi-label/labels.csv
for tune in none global per-class; do
    flags=()
    [ "$tune" = none ] || flags=(--tune-threshold "$tune")
    train "ml-$tune" "$out/data/multi-label" --labels "$ml" "${flags[@]}" >/dev/null
    echo "threshold $tune: $(evaluate "ml-$tune" multi-label | pick accuracy_multi f1_micro f1_macro f1_samples map)"
done

echo "== regression: the angle ($epochs epochs)"
for loss in mse l1 huber; do
    train "angle-$loss" "$out/data/regression" --labels "$out/data/regression/labels.csv" --loss "$loss" >/dev/null
    evaluate "angle-$loss" regression | python3 -c "
import json,sys; t=json.load(sys.stdin)['task']['values']['per_target'][0]
print(f\"$loss: MAE {t['mae']:.2f}°, RMSE {t['rmse']:.2f}°, R² {t['r2']:.4f} (mean baseline: MAE {t['baseline_mae']:.2f}°, RMSE {t['baseline_rmse']:.2f}°)\")"
done

echo "== count ($epochs epochs)"
for loss in poisson mse; do
    train "count-$loss" "$out/data/count" --labels "$out/data/count/labels.csv" --task count --loss "$loss" >/dev/null
    evaluate "count-$loss" count | python3 -c "
import json,sys; d=json.load(sys.stdin); t=d['task']['values']['per_target'][0]
print(f\"$loss: exact {d['exact_accuracy']:.4f}, MAE {t['mae']:.3f}, RMSE {t['rmse']:.3f} (mean baseline MAE {t['baseline_mae']:.3f})\")"
done

echo "== two classes: Sneaker vs Ankle boot ($epochs epochs, 20% held out as test)"
train two-class "$out/data/two-class" --test-pct 0.2 | pick accuracy
python3 -c "
import json; r=json.load(open('$out/two-class/report.json'))['test_metrics']['ranking']
print(f\"test ROC AUC {r['roc_auc']:.4f}, average precision {r['average_precision']:.4f} ({r['class']} as positive)\")"

echo "== speed: seconds per epoch on the same 3000 images (2 epochs each, the second timed)"
python3 - "$out/data/multi-label" <<'EOF'
import sys
from pathlib import Path
d = Path(sys.argv[1])
rows = d.joinpath("labels.csv").read_text().splitlines()[1:]
d.joinpath("first.csv").write_text("file,label\n" + "".join(f"{r.split(',')[0]},{r.split(',')[1].split()[0]}\n" for r in rows))
EOF
for kind in single multi; do
    labels=$out/data/multi-label/labels.csv
    [ "$kind" = single ] && labels=$out/data/multi-label/first.csv
    "$bin" train "$out/data/multi-label" --labels "$labels" --epochs 2 --out "$out/speed-$kind" --overwrite >/dev/null 2>&1
    python3 -c "import json; m=json.load(open('$out/speed-$kind/metrics.json')); print('$kind-label: %.2f s' % m[-1]['seconds'])"
done
