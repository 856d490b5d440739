"""What every service's pages stand on: people signed in through OpenID Connect with
server-side sessions, the directory port that admits them, the security headers, the shared
templates."""
