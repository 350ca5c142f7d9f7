# Both targets set up whatever is missing first (apt + pip into .venv, idempotent).
.PHONY: setup demo test test-fast lint

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/hecathode dataset --csv out/review_dataset.csv --plot out/review_dataset.png
	.venv/bin/hecathode campaign run configs/campaigns/nvpf_he.yaml
	@echo "Percolation barriers are not run by the demo (it would pass 15 min). They come from:"
	@echo "  pristine NVPF (about 15 min here):  .venv/bin/hecathode neb --prototype nvpf --network --screen short-neb --cutoff 4.2 --workers 2 --out out/net-nvpf"
	@echo "  HE-NVPF, K SQS (projected 1-1.5 h per SQS here with 2 workers; on a cluster a campaign with neb: {network: true}):"
	@echo "    .venv/bin/hecathode transport 'Na3V1.9(Ca,Mg,Al,Cr,Mn)0.1(PO4)2F3' -p nvpf --n-sqs 3 --cutoff 4.2 --workers 2 --out out/transport-nvpf"

test: setup
	.venv/bin/ruff check .
	.venv/bin/python -m pytest -q

# the edit loop: everything but the `slow` tests (MLIPs, NEBs, SLURM, DFT, long annealing)
test-fast: setup
	.venv/bin/ruff check .
	.venv/bin/python -m pytest -q -m "not slow"

lint: setup
	.venv/bin/ruff check .
