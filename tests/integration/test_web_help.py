"""left4me's help: the program's and every command's, on stdout with exit
0; mistakes get one line on stderr and exit 2."""
import subprocess

import pytest

from webutil import LEFT4ME

COMMANDS = {"serve": "serve [--listen ADDR:PORT]", "admin": "admin create USER", "db": "db migrate",
            "workshop": "workshop refresh"}


def run(*args):
    return subprocess.run([str(LEFT4ME), *args], capture_output=True, text=True, timeout=30)


def test_program_help():
    for args in (["--help"], ["-h"], ["help"]):
        p = run(*args)
        assert p.returncode == 0 and p.stderr == "", args
        assert p.stdout.startswith("Usage: left4me ")
        for c in COMMANDS:
            assert "  %s " % c in p.stdout, c


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_its_help(command):
    for args in ([command, "--help"], [command, "-h"], ["help", command], ["--state-dir", "/nonexistent", command,
                                                                             "--help"]):
        p = run(*args)
        assert p.returncode == 0 and p.stderr == "", (args, p.stderr)
        assert p.stdout.startswith("Usage: left4me [--state-dir DIR] " + COMMANDS[command]), (args, p.stdout)


def test_a_subcommand_takes_help_too():
    p = run("admin", "create", "--help")
    assert p.returncode == 0 and p.stdout.startswith("Usage: left4me [--state-dir DIR] admin create")


def test_mistakes_are_one_line_and_exit_2():
    for args in (["bogus"], ["serve", "--bogus"], ["db", "nope"], []):
        p = run(*args)
        assert p.returncode == 2, args
        assert p.stdout == "", args
    assert run("bogus").stderr == "error: unknown command 'bogus'; see left4me --help\n"
    assert run("serve", "--bogus").stderr.count("\n") == 1
