#!/usr/bin/env bash
# The nightly batch on a Spark cluster with spark-submit. The driver runs `rnncast
# batch --engine spark` in client mode, on a machine with rnncast[spark] and the model;
# the artifact and its checksum travel to the executors as files (--files), and each
# executor verifies its copy against the driver's sha256 before it forecasts.
#
#   SPARK_MASTER=spark://HOST:7077 deploy/spark/submit.sh INPUT OUTPUT [more rnncast batch options]
#
# INPUT and OUTPUT are paths every executor can read and write (a shared file system).
# Every node needs Java 17 and rnncast[spark] in the Python that PYSPARK_PYTHON names
# (default: PYTHON, else python3). Settings, all optional: SPARK_MASTER (local[*]),
# MODEL_DIR (models/default), EXECUTOR_CORES (4: one forecasting Python worker per
# core, one torch thread each). Later options override the defaults below (--horizon).
set -euo pipefail
if [ "$#" -lt 2 ]; then
    echo "usage: $0 INPUT OUTPUT [rnncast batch options]" >&2
    exit 2
fi
input="$1"
output="$2"
shift 2
model_dir="${MODEL_DIR:-models/default}"
# The driver's Python, and by default the executors' (the same path on every node).
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-${PYTHON:-python3}}"
exec spark-submit \
    --master "${SPARK_MASTER:-local[*]}" \
    --deploy-mode client \
    --name "rnncast batch" \
    --files "$model_dir/model.pt,$model_dir/model.pt.sha256" \
    --conf "spark.executor.cores=${EXECUTOR_CORES:-4}" \
    --conf spark.task.cpus=1 \
    "$(dirname "$0")/rnncast_batch.py" batch --engine spark --model "$model_dir/model.pt" \
    --input "$input" --output "$output" --horizon 24 --level 80,95 --no-progress "$@"
