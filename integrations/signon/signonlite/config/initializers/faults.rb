# frozen_string_literal: true

# A fault the Go tests can ask for, as a fake's fault hook:
# SIGNON_LITE_FAULT=duplicate_token makes saving a token fail on MySQL's
# unique index, whose duplicate-entry error quotes the token.
if ENV["SIGNON_LITE_FAULT"] == "duplicate_token"
  Rails.application.config.after_initialize do
    Doorkeeper::AccessToken.after_create do
      self.class.connection.execute(
        "INSERT INTO oauth_access_tokens (resource_owner_id, application_id, token, created_at) " \
        "VALUES (#{Integer(resource_owner_id)}, #{Integer(application_id)}, #{self.class.connection.quote(token)}, UTC_TIMESTAMP())",
      )
    end
  end
end
