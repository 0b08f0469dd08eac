# frozen_string_literal: true

# Signon's User, reduced to what the bot's script uses: the API-user flag,
# suspension (suspended_at), the tokens ("authorisations") and the
# permissions through which the signin permission is granted.
class User < ApplicationRecord
  # As in Signon, a token counts only while its application does: the join
  # applies Doorkeeper::Application's default scope (not retired).
  has_many :authorisations, -> { joins(:application) }, class_name: "Doorkeeper::AccessToken", foreign_key: :resource_owner_id
  has_many :application_permissions, -> { joins(:application) }, class_name: "UserApplicationPermission", inverse_of: :user, dependent: :destroy
  has_many :supported_permissions, -> { joins(:application) }, through: :application_permissions

  scope :web_users, -> { where(api_user: false) }
  scope :suspended, -> { where.not(suspended_at: nil) }
  scope :not_suspended, -> { where(suspended_at: nil) }

  before_validation { self.uid ||= SecureRandom.uuid }

  def suspended?
    suspended_at.present?
  end

  # Devise's lockable as Signon configures it: a lock lifts after an hour
  # (unlock_in) even though locked_at stays set.
  def access_locked?
    locked_at.present? && locked_at > 1.hour.ago
  end

  def grant_application_signin_permission(application)
    grant_application_permissions(application, [SupportedPermission::SIGNIN_NAME]).first
  end

  def grant_application_permissions(application, supported_permission_names)
    return [] if application.retired?

    supported_permission_names.map do |name|
      grant_permission(SupportedPermission.find_by(application_id: application.id, name: name))
    end
  end

  def grant_permission(supported_permission)
    application_permissions.where(supported_permission_id: supported_permission.id).first_or_create!
  end
end
