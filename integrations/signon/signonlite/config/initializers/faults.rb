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

# SIGNON_LITE_FAULT=hang_before_commit makes saving a token wait for an
# hour inside its transaction, as a stuck lock or a stalled database
# would, so that only something outside the process can end it. When it
# starts waiting it writes the variables that say how quiet the process
# is to SIGNON_LITE_HANG_FILE, as JSON.
if ENV["SIGNON_LITE_FAULT"] == "hang_before_commit"
  Rails.application.config.after_initialize do
    Doorkeeper::AccessToken.after_create do
      if (path = ENV["SIGNON_LITE_HANG_FILE"])
        names = %w[RAILS_LOG_LEVEL ENABLE_OPEN_TELEMETRY GOVUK_RAILS_JSON_LOGGING SENTRY_DSN SIGNON_BOT_REQUEST]
        File.write("#{path}.tmp", JSON.generate(names.to_h { |n| [n, ENV[n]] }))
        File.rename("#{path}.tmp", path)
      end
      sleep 3600
    end
  end
end
