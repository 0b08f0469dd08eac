# frozen_string_literal: true

require "doorkeeper/orm/active_record/application"

# Signon reopens Doorkeeper's application: retired applications are hidden
# by the default scope, and each application gets its signin permission.
class Doorkeeper::Application < ActiveRecord::Base
  has_many :supported_permissions, dependent: :destroy

  default_scope { not_retired.ordered_by_name }

  scope :ordered_by_name, -> { order("oauth_applications.name") }
  scope :not_retired, -> { where(retired: false) }

  after_create { supported_permissions.delegated.signin.create! }

  def signin_permission
    supported_permissions.signin.first
  end
end
