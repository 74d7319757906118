"""The graph explorer for data stewards: a static web page at /explorer (built from
explorer/ with npm and shipped in the package under app/web/static), talking to /graphql."""
