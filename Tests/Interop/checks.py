"""What the interop scripts share: a check that counts passes and stops at the first failure."""

passed = 0


def check(condition, what):
    """Fails the run with `what` unless `condition` holds; prints and counts it otherwise."""
    global passed
    if not condition:
        raise AssertionError(what)
    passed += 1
    print(f"  ok: {what}")
