# frozen_string_literal: true

class UserApplicationPermission < ApplicationRecord
  belongs_to :user
  belongs_to :application, class_name: "Doorkeeper::Application"
  belongs_to :supported_permission

  validates :user, :supported_permission, :application, presence: true
  validates :supported_permission_id, uniqueness: { scope: %i[user_id application_id], case_sensitive: true }

  # Signon copies the application id from the permission, so that a user's
  # permissions for one application are one indexed lookup.
  before_validation { self.application_id = supported_permission.application_id if supported_permission.present? }
end
