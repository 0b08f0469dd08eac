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
