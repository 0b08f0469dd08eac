# frozen_string_literal: true

# Signon's audit log. Only the token events are listed; their ids and
# requirements are Signon's, so a record the real EventLog would reject is
# rejected here too.
class EventLog < ApplicationRecord
  EVENTS = [
    ACCESS_TOKEN_GENERATED = LogEntry.new(id: 29, description: "Access token generated", require_uid: true, require_application: true, require_initiator: true),
    ACCESS_TOKEN_REVOKED = LogEntry.new(id: 30, description: "Access token revoked", require_uid: true, require_application: true, require_initiator: true),
    ACCESS_TOKENS_DELETED = LogEntry.new(id: 44, description: "Access tokens deleted", require_uid: true),
    ACCESS_TOKEN_AUTO_GENERATED = LogEntry.new(id: 48, description: "Access token automatically generated as existing token due to expire in two weeks", require_uid: true, require_application: true),
  ].freeze

  VALID_OPTIONS = %i[initiator application application_id trailing_message ip_address user_agent_id user_agent_string user_email_string].freeze

  belongs_to :initiator, class_name: "User"
  belongs_to :user, class_name: "User", foreign_key: :uid, primary_key: :uid
  belongs_to :application, class_name: "Doorkeeper::Application"

  validates :event_id, presence: true
  validates :uid, presence: { if: -> { entry&.require_uid? } }
  validates :initiator_id, presence: { if: -> { entry&.require_initiator? } }
  validates :application_id, presence: { if: -> { entry&.require_application? } }
  validate { errors.add(:event_id, "must have a corresponding LogEntry for #{event_id}") unless entry }

  def entry
    EVENTS.detect { |event| event.id == event_id }
  end

  def self.record_event(user, event, options = {})
    attributes = { uid: user&.uid, event_id: event.id }.merge!(options.slice(*VALID_OPTIONS))
    EventLog.create!(attributes)
  end
end
