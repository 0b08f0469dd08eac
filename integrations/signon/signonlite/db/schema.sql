-- Signon's columns for the tables the bot's script touches (from Signon's
-- db/schema.rb), in SQLite. Datetimes are UTC text as ActiveRecord writes
-- them ("YYYY-MM-DD HH:MM:SS.ffffff").
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  name VARCHAR NOT NULL,
  email VARCHAR DEFAULT '' NOT NULL,
  uid VARCHAR NOT NULL,
  api_user BOOLEAN DEFAULT 0 NOT NULL,
  role VARCHAR DEFAULT 'normal',
  locked_at DATETIME,
  suspended_at DATETIME,
  reason_for_suspension VARCHAR,
  created_at DATETIME,
  updated_at DATETIME
);
CREATE UNIQUE INDEX index_users_on_email ON users (email);

CREATE TABLE oauth_applications (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  name VARCHAR,
  uid VARCHAR NOT NULL,
  secret VARCHAR NOT NULL,
  redirect_uri VARCHAR NOT NULL,
  confidential BOOLEAN DEFAULT 1 NOT NULL,
  home_uri VARCHAR,
  description VARCHAR,
  api_only BOOLEAN DEFAULT 0 NOT NULL,
  retired BOOLEAN DEFAULT 0 NOT NULL,
  supports_push_updates BOOLEAN DEFAULT 1,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX unique_application_name ON oauth_applications (name);
CREATE UNIQUE INDEX index_oauth_applications_on_uid ON oauth_applications (uid);

CREATE TABLE oauth_access_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  resource_owner_id INTEGER NOT NULL,
  application_id INTEGER NOT NULL,
  token VARCHAR NOT NULL,
  refresh_token VARCHAR,
  expires_in INTEGER,
  revoked_at DATETIME,
  created_at DATETIME NOT NULL,
  scopes VARCHAR
);
CREATE UNIQUE INDEX index_oauth_access_tokens_on_token ON oauth_access_tokens (token);
CREATE UNIQUE INDEX index_oauth_access_tokens_on_refresh_token ON oauth_access_tokens (refresh_token);
CREATE INDEX index_oauth_access_tokens_on_resource_owner_id ON oauth_access_tokens (resource_owner_id);

CREATE TABLE supported_permissions (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  application_id INTEGER NOT NULL,
  name VARCHAR,
  "default" BOOLEAN DEFAULT 0 NOT NULL,
  delegated BOOLEAN DEFAULT 0,
  grantable_from_ui BOOLEAN DEFAULT 1 NOT NULL,
  created_at DATETIME,
  updated_at DATETIME
);
CREATE UNIQUE INDEX index_supported_permissions_on_application_id_and_name ON supported_permissions (application_id, name);

CREATE TABLE user_application_permissions (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  user_id INTEGER NOT NULL,
  application_id INTEGER NOT NULL,
  supported_permission_id INTEGER NOT NULL,
  last_synced_at DATETIME,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX index_app_permissions_on_user_and_app_and_supported_permission ON user_application_permissions (user_id, application_id, supported_permission_id);

CREATE TABLE event_logs (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  uid VARCHAR,
  event_id INTEGER,
  initiator_id INTEGER,
  application_id INTEGER,
  trailing_message TEXT,
  ip_address DECIMAL(38),
  user_agent_id INTEGER,
  user_agent_string TEXT,
  user_email_string VARCHAR,
  created_at DATETIME NOT NULL
);
