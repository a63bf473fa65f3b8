"""Who is signed in, what their role allows, and sign-in with hashed passwords."""
