"""spark-submit entry point: the Segmenter CLI on the Spark session spark-submit created.

    zip -qr segmentation.zip segmentation -x '*/__pycache__/*'
    spark-submit --master yarn --py-files segmentation.zip scripts/spark_job.py \
        s3a://lake/sales/transactions/ --out customers.csv --report report.json

Arguments are the CLI's (python -m segmentation --help); ``--engine spark`` is implied. Without
``--spark-master`` the pipeline uses the session of spark-submit (its --master and --conf).
Only the driver needs Python packages (requirements.txt): cleaning and RFM compile to Spark
SQL, so executors run no Python.
"""
import sys

from segmentation.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--engine" not in argv:
        argv = ["--engine", "spark", *argv]
    sys.exit(main(argv))
