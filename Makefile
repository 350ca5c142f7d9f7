# Both targets set up whatever is missing first (apt + pip into .venv, idempotent).
.PHONY: setup demo test test-fast lint

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/hecathode dataset --csv out/review_dataset.csv --plot out/review_dataset.png
	.venv/bin/hecathode campaign run configs/campaigns/nvpf_he.yaml

test: setup
	.venv/bin/ruff check .
	.venv/bin/python -m pytest -q

# the edit loop: everything but the `slow` tests (MLIPs, NEBs, SLURM, DFT, long annealing)
test-fast: setup
	.venv/bin/ruff check .
	.venv/bin/python -m pytest -q -m "not slow"

lint: setup
	.venv/bin/ruff check .
