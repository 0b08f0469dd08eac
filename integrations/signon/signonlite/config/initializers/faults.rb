# frozen_string_literal: true

# A fault the Go tests can ask for, as a fake's fault hook:
# SIGNON_LITE_FAULT=duplicate_token makes saving a token fail the way
# MySQL's duplicate-entry error does, quoting the token in the message.
if ENV["SIGNON_LITE_FAULT"] == "duplicate_token"
  Rails.application.config.after_initialize do
    Doorkeeper::AccessToken.after_create do
      raise ActiveRecord::RecordNotUnique, "Mysql2::Error: Duplicate entry '#{token}' for key 'index_oauth_access_tokens_on_token'"
    end
  end
end
