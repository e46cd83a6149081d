"""Local emulator of the JTL-FFN merchant API (+ OAuth2), the JTL-Wawi REST API and Google Sheets.

It is the embedded default for the demo and the fake that tests run the real clients (and the real
gspread library) against, in-process through ASGI or over real HTTP on loopback.
"""
