"""The dashboard and portal pages: one module per page family.

Pages render with templates and only read; every change a user makes is sent
by the page's script to the same /api/v1/ endpoints as any other client, so
the rules live in one place (static/js/api.js does the fetch, CSRF and errors).
"""
