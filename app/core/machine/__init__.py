"""What the computer has: CPU, RAM, GPUs (NVML, Apple, sysfs), the llama.cpp build, memory bandwidth, and
live memory readouts of a process.

May import: shared modules.
"""
