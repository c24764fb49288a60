# Two entry points do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lab clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,lab]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (igtrends)" >/dev/null
	touch $(STAMP)

## run: the whole study on the embedded sample (collect, explore, train, evaluate)
run: $(STAMP)
	$(BIN)/igtrends run --dataset sample

## test: the test suite, including one run of the notebook sequence with tiny parameters
test: $(STAMP)
	$(BIN)/python -m pytest

## lab: JupyterLab with a kernel that has igtrends installed
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf runs data/raw data/processed data/models figures/*.png figures/*.svg
