# Clinic PBX — developer entry points. See README.md.
.PHONY: run test e2e bench lint ring help

help:
	@echo "make run    serve Odoo 18 with clinic_pbx and demo data at http://localhost:8069"
	@echo "make test   lint, then install clinic_pbx in a new database and run the whole suite"
	@echo "make e2e    real servers: load and a database failover, two nodes behind nginx"
	@echo "make bench  run the benchmarks and write docs/BENCHMARKS.md"
	@echo "make lint   ruff and pylint-odoo only"
	@echo "make ring   ring the demo's reception extension 101 (needs make run)"

run:
	@bash scripts/clinic.sh run

test:
	@bash scripts/clinic.sh test

e2e:
	@bash scripts/clinic.sh e2e

bench:
	@bash scripts/clinic.sh bench

lint:
	@bash scripts/clinic.sh lint

ring:
	@bash scripts/clinic.sh ring
