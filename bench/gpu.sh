#!/usr/bin/env bash
# The GPU checks of the sentiment engine in one call (for a lent GPU machine with PyTorch and transformers, no
# internet): the `gpu`-marked tests, then bench/sentiment_throughput.py on the DistilBERT and MiniLM shapes and on
# the trained default model (bf16 vs fp32). Logs go to OUT; the last lines of each are printed.
#
#   bench/gpu.sh TEXTS_JSON TRAINED_MODEL_DIR OUT [N]
#
# TEXTS_JSON: [[text, voted_up], …] (the Steam sample's cleaned reviews); TRAINED_MODEL_DIR: an embedding-head model
# version directory (its encoder/ also gives the tokenizer of the random-weight shapes).
set -u
texts=$1 model=$2 out=$3 n=${4:-22044}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$out/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" \
  | tee -a "$out/gpu.txt"
python3 -m pytest -q -p no:cacheprovider -m gpu tests/lake/ml/test_sentiment_engine.py >"$out/gpu-tests.log" 2>&1
tail -3 "$out/gpu-tests.log"
for arch in distilbert minilm; do
  python3 bench/sentiment_throughput.py --arch "$arch" --n "$n" --n-per-review 1000 --repeat 3 --texts-file "$texts" \
    --tokenizer-dir "$model/encoder" --sweep-tokens 16384,32768,131072 >"$out/bench-$arch.log" 2>&1
  grep -v "Loading weights\|Writing model" "$out/bench-$arch.log" | tail -14
done
python3 bench/sentiment_throughput.py --model "$model" --device cuda --precision bf16 --n "$n" --n-per-review 1000 \
  --repeat 3 --texts-file "$texts" >"$out/bench-trained.log" 2>&1
grep -v "Loading weights" "$out/bench-trained.log" | tail -7
