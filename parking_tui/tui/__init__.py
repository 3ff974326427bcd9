"""The Textual app. It only calls ``ParkingService``; it holds the session token after sign-in."""
