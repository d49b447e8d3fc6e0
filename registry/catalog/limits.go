package catalog

// Limits on sizes and counts. They are documented in docs/catalog.md; changing one here means changing it there.
const (
	MaxNameLen          = 200 // a whole "namespace/name"
	MaxTitleLen         = 200
	MaxDescriptionLen   = 4096
	MaxTags             = 32
	MaxTagLen           = 64
	MaxVersions         = 100
	MaxVersionLen       = 255
	MaxToolsPerVersion  = 500
	MaxToolNameLen      = 128
	MaxToolDescLen      = 8192
	MaxSchemaBytes      = 64 << 10 // a tool's inputSchema, an entity's fields, an entity type's schema
	MaxURLLen           = 2048
	MaxGateways         = 32
	MaxSkillContentLen  = 256 << 10
	MaxAgentSkills      = 200
	MaxCardBytes        = 128 << 10
	MaxEndpoints        = 64
	MaxLaunchArgs       = 64
	MaxEnvNames         = 64
	MaxSearchableFields = 32
	MaxGrants           = 200
	MaxScopesPerMapping = 100
)
