# Two entry points from a fresh Debian 12 machine (each does all of its own setup):
#   make demo  - bring up a 3-node swarm lab, deploy an example VIP, show who holds it
#   make test  - lint, type checks and every test, the end-to-end ones on the real lab included
.PHONY: test demo bench bench-presets bench-planned faults soak lab-down
test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

bench:
	bash scripts/bench.sh

bench-presets:
	SWARMVIP_BENCH=presets bash scripts/bench.sh

bench-planned:
	SWARMVIP_BENCH=planned bash scripts/bench.sh

faults:
	bash scripts/faults.sh

soak:
	bash scripts/scale.sh

lab-down:
	.venv/bin/swarmvip lab down
