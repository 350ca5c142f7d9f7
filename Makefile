# Both targets set up whatever is missing first (apt + pip into .venv, idempotent).
.PHONY: setup demo test lint

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/hecathode dataset --csv out/review_dataset.csv --plot out/review_dataset.png
	.venv/bin/hecathode sqs NaMn0.2Fe0.2Co0.2Ni0.2Ti0.2O2 --prototype o3 --max-atoms 120 \
		--n-structures 3 --seed 1 --out out/sqs-o3

test: setup
	.venv/bin/ruff check .
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check .
