# frozen_string_literal: true

# Signon's Doorkeeper settings that touch access tokens: refresh tokens on,
# tokens stored in plain text with the default generator
# (SecureRandom.urlsafe_base64(32)).
Doorkeeper.configure do
  orm :active_record
  access_token_expires_in 2.hours
  use_refresh_token
  grant_flows %w[authorization_code]
end
