"""Prints a fresh console token from the benchmark deployment's REST API
(os-getVNCConsole path: API -> compute -> consoleauth). run_peers.py calls it
once per session as its --candidate-token-cmd. Standard library only.

    python3 issue_token.py API_PORT SERVER_ID
"""
import sys

import stack

if __name__ == "__main__":
    deployment = stack.Stack.attach(int(sys.argv[1]), sys.argv[2])
    print(deployment.issue_token())
