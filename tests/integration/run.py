#!/usr/bin/env python3
"""Runs every integration test module and ends with 'N passed, N failed'.

usage: run.py [pattern]   (IMAGEGATE_BIN selects the binary)"""
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
suite = unittest.defaultTestLoader.discover(here, pattern=pattern)
result = unittest.TextTestRunner(verbosity=1, stream=sys.stdout).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
print("integration (%s): %d passed, %d failed" % (
    os.environ.get("IMAGEGATE_BIN", "build/imagegate"), result.testsRun - failed, failed))
sys.exit(0 if failed == 0 else 1)
