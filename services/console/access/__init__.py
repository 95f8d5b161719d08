"""Who may do what in the console: sign-in against the registry, the signed session cookie,
and the guard every request passes (sign-in, CSRF, operators)."""
