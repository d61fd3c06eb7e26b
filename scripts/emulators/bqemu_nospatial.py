"""Starts bqemulator without its DuckDB `spatial` extension.

bqemulator downloads the `spatial` extension at startup, which fails on a
machine without internet; GEOGRAPHY is not needed by Baton's tests, so that
step is replaced by a no-op. Usage is bqemulator's CLI:

    python bqemu_nospatial.py start --rest-port 9050 --grpc-port 9060 --project test-proj
"""

import sys

import bqemulator.storage.engine as engine

engine.DuckDBEngine._load_spatial = lambda self: None

from bqemulator.cli import main  # noqa: E402

sys.exit(main())
