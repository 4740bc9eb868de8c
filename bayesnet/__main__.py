from bayesnet.cli import run

run()
