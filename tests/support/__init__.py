"""Helpers shared by the tests of several areas: request checks, publish interleavings, oracles, pages, runners."""
