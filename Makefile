# Both targets set up whatever is missing first (apt + pip into .venv, idempotent).
.PHONY: setup demo test lint

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/hecathode dataset --csv out/review_dataset.csv --plot out/review_dataset.png
	.venv/bin/hecathode campaign run configs/campaigns/nvpf_he.yaml

test: setup
	.venv/bin/ruff check .
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check .
