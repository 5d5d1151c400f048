from nova_console import utils


def test_tokens_carry_at_least_128_random_bits_and_are_url_safe():
    tokens = {utils.generate_token() for _ in range(1000)}
    assert len(tokens) == 1000
    for token in tokens:
        assert len(token) * 6 >= 128
        assert all(c.isalnum() or c in "-_" for c in token)


def test_mask_token_hides_the_token():
    token = utils.generate_token()
    masked = utils.mask_token(token)
    assert token not in masked and token[:6] not in masked
    assert masked == utils.mask_token(token)
    assert utils.mask_token(None) == "<none>"


def test_tokens_never_start_with_a_dash_a_command_line_would_take_for_an_option(monkeypatch):
    draws = iter(["-first", "_second"])
    monkeypatch.setattr(utils.secrets, "token_urlsafe", lambda size: next(draws))
    assert utils.generate_token() == "_second"
