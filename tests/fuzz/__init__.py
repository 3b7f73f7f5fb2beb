"""Fuzz tests: thousands of damaged copies of real model files through every reader of outside files.

Each case must end in a QuantDeskError in plain words (or succeed), quickly and in bounded memory.
"""
