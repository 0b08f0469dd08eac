-- Signon's tables that the bot's script and the tests touch, as Signon's
-- db/schema.rb (alphagov/signon, Rails 8.1) makes them on MySQL: int ids,
-- varchar(255) strings, datetimes of precision 0 (whole seconds), and each
-- table's own character set and collation. So emails match case- and
-- accent-insensitively (utf8mb3_unicode_ci), application names are latin1
-- (a name outside latin1 cannot be stored), and every table is InnoDB, whose
-- row locks the script's lock! takes. Columns the script never reads are
-- left out unless a test needs them. Datetimes are UTC, as ActiveRecord
-- writes them.
CREATE TABLE users (
  id int(11) NOT NULL AUTO_INCREMENT,
  name varchar(255) NOT NULL,
  email varchar(255) NOT NULL DEFAULT '',
  encrypted_password varchar(255) DEFAULT '',
  uid varchar(255) NOT NULL,
  api_user tinyint(1) NOT NULL DEFAULT 0,
  role varchar(255) DEFAULT 'normal',
  suspended_at datetime DEFAULT NULL,
  unsuspended_at datetime DEFAULT NULL,
  reason_for_suspension varchar(255) DEFAULT NULL,
  locked_at datetime DEFAULT NULL,
  failed_attempts int(11) DEFAULT 0,
  require_2sv tinyint(1) NOT NULL DEFAULT 0,
  organisation_id int(11) DEFAULT NULL,
  created_at datetime DEFAULT NULL,
  updated_at datetime DEFAULT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY index_users_on_email (email),
  KEY index_users_on_organisation_id (organisation_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_unicode_ci;

CREATE TABLE oauth_applications (
  id int(11) NOT NULL AUTO_INCREMENT,
  name varchar(255) DEFAULT NULL,
  uid varchar(255) NOT NULL,
  secret varchar(255) NOT NULL,
  redirect_uri varchar(255) NOT NULL,
  confidential tinyint(1) NOT NULL DEFAULT 1,
  home_uri varchar(255) DEFAULT NULL,
  description varchar(255) DEFAULT NULL,
  api_only tinyint(1) NOT NULL DEFAULT 0,
  retired tinyint(1) NOT NULL DEFAULT 0,
  supports_push_updates tinyint(1) DEFAULT 1,
  created_at datetime NOT NULL,
  updated_at datetime NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY unique_application_name (name),
  UNIQUE KEY index_oauth_applications_on_uid (uid)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE oauth_access_tokens (
  id int(11) NOT NULL AUTO_INCREMENT,
  resource_owner_id int(11) NOT NULL,
  application_id int(11) NOT NULL,
  token varchar(255) NOT NULL,
  refresh_token varchar(255) DEFAULT NULL,
  -- NULL: the token never expires.
  expires_in int(11) DEFAULT NULL,
  revoked_at datetime DEFAULT NULL,
  created_at datetime NOT NULL,
  scopes varchar(255) DEFAULT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY index_oauth_access_tokens_on_token (token),
  UNIQUE KEY index_oauth_access_tokens_on_refresh_token (refresh_token),
  KEY index_oauth_access_tokens_on_resource_owner_id (resource_owner_id),
  KEY fk_rails_732cb83ab7 (application_id),
  CONSTRAINT fk_rails_732cb83ab7 FOREIGN KEY (application_id) REFERENCES oauth_applications (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_unicode_ci;

CREATE TABLE supported_permissions (
  id int(11) NOT NULL AUTO_INCREMENT,
  application_id int(11) NOT NULL,
  name varchar(255) DEFAULT NULL,
  `default` tinyint(1) NOT NULL DEFAULT 0,
  delegated tinyint(1) DEFAULT 0,
  grantable_from_ui tinyint(1) NOT NULL DEFAULT 1,
  created_at datetime DEFAULT NULL,
  updated_at datetime DEFAULT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY index_supported_permissions_on_application_id_and_name (application_id, name),
  KEY index_supported_permissions_on_application_id (application_id),
  CONSTRAINT fk_rails_supported_permissions_application FOREIGN KEY (application_id) REFERENCES oauth_applications (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;

CREATE TABLE user_application_permissions (
  id int(11) NOT NULL AUTO_INCREMENT,
  user_id int(11) NOT NULL,
  application_id int(11) NOT NULL,
  supported_permission_id int(11) NOT NULL,
  last_synced_at datetime DEFAULT NULL,
  created_at datetime NOT NULL,
  updated_at datetime NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY index_app_permissions_on_user_and_app_and_supported_permission (user_id, application_id, supported_permission_id),
  KEY fk_rails_36355a4090 (application_id),
  CONSTRAINT fk_rails_36355a4090 FOREIGN KEY (application_id) REFERENCES oauth_applications (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;

CREATE TABLE user_agents (
  id int(11) NOT NULL AUTO_INCREMENT,
  user_agent_string varchar(1000) NOT NULL,
  PRIMARY KEY (id),
  KEY index_user_agents_on_user_agent_string (user_agent_string(255))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;

CREATE TABLE event_logs (
  id int(11) NOT NULL AUTO_INCREMENT,
  uid varchar(255) DEFAULT NULL,
  event_id int(11) DEFAULT NULL,
  initiator_id int(11) DEFAULT NULL,
  application_id int(11) DEFAULT NULL,
  trailing_message text DEFAULT NULL,
  ip_address decimal(38,0) DEFAULT NULL,
  user_agent_id int(11) DEFAULT NULL,
  user_agent_string text DEFAULT NULL,
  user_email_string varchar(255) DEFAULT NULL,
  created_at datetime NOT NULL,
  PRIMARY KEY (id),
  KEY index_event_logs_on_application_id (application_id),
  KEY index_event_logs_on_event_id (event_id),
  KEY index_event_logs_on_uid_and_created_at (uid, created_at),
  KEY event_logs_user_agent_id_fk (user_agent_id),
  CONSTRAINT event_logs_user_agent_id_fk FOREIGN KEY (user_agent_id) REFERENCES user_agents (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
