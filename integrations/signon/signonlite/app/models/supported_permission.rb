# frozen_string_literal: true

class SupportedPermission < ApplicationRecord
  SIGNIN_NAME = "signin"

  belongs_to :application, class_name: "Doorkeeper::Application"
  has_many :user_application_permissions, dependent: :destroy, inverse_of: :supported_permission

  validates :name, presence: true, uniqueness: { scope: :application_id }

  default_scope { order(:name) }

  scope :delegated, -> { where(delegated: true) }
  scope :signin, -> { where(name: SIGNIN_NAME) }
end
