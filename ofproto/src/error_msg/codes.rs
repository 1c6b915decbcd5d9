//! The error codes of every `OFPET_*` error type (OF1.3.5 §7.4.4), one open enum per type so unknown
//! codes round-trip.

use crate::types::open_enum;

open_enum! {
    /// `ofp_hello_failed_code` (`OFPET_HELLO_FAILED`). The error's data is ASCII text.
    pub enum HelloFailedCode: u16 {
        /// No compatible version.
        Incompatible = 0,
        /// Permissions error.
        Eperm = 1,
    }
}

open_enum! {
    /// `ofp_bad_request_code` (`OFPET_BAD_REQUEST`).
    pub enum BadRequestCode: u16 {
        /// `ofp_header.version` not supported.
        BadVersion = 0,
        /// `ofp_header.type` not supported.
        BadType = 1,
        /// `ofp_multipart_request.type` not supported.
        BadMultipart = 2,
        /// Experimenter id not supported.
        BadExperimenter = 3,
        /// Experimenter type not supported.
        BadExpType = 4,
        /// Permissions error.
        Eperm = 5,
        /// Wrong request length for type.
        BadLen = 6,
        /// Specified buffer has already been used.
        BufferEmpty = 7,
        /// Specified buffer does not exist.
        BufferUnknown = 8,
        /// Specified table-id invalid or does not exist.
        BadTableId = 9,
        /// Denied because controller is slave.
        IsSlave = 10,
        /// Invalid port.
        BadPort = 11,
        /// Invalid packet in packet-out.
        BadPacket = 12,
        /// `ofp_multipart_request` overflowed the assigned buffer.
        MultipartBufferOverflow = 13,
    }
}

open_enum! {
    /// `ofp_bad_action_code` (`OFPET_BAD_ACTION`).
    pub enum BadActionCode: u16 {
        BadType = 0,
        BadLen = 1,
        BadExperimenter = 2,
        BadExpType = 3,
        BadOutPort = 4,
        BadArgument = 5,
        Eperm = 6,
        TooMany = 7,
        BadQueue = 8,
        BadOutGroup = 9,
        /// Action can't apply for this match, or set-field missing prerequisite.
        MatchInconsistent = 10,
        UnsupportedOrder = 11,
        BadTag = 12,
        BadSetType = 13,
        BadSetLen = 14,
        BadSetArgument = 15,
    }
}

open_enum! {
    /// `ofp_bad_instruction_code` (`OFPET_BAD_INSTRUCTION`).
    pub enum BadInstructionCode: u16 {
        UnknownInst = 0,
        UnsupInst = 1,
        BadTableId = 2,
        UnsupMetadata = 3,
        UnsupMetadataMask = 4,
        BadExperimenter = 5,
        BadExpType = 6,
        BadLen = 7,
        Eperm = 8,
    }
}

open_enum! {
    /// `ofp_bad_match_code` (`OFPET_BAD_MATCH`).
    pub enum BadMatchCode: u16 {
        BadType = 0,
        BadLen = 1,
        BadTag = 2,
        BadDlAddrMask = 3,
        BadNwAddrMask = 4,
        BadWildcards = 5,
        BadField = 6,
        BadValue = 7,
        BadMask = 8,
        BadPrereq = 9,
        DupField = 10,
        Eperm = 11,
    }
}

open_enum! {
    /// `ofp_flow_mod_failed_code` (`OFPET_FLOW_MOD_FAILED`).
    pub enum FlowModFailedCode: u16 {
        /// `OFPFMFC_UNKNOWN`, unspecified error (renamed: `Unknown(n)` holds codes without a name).
        Unspecified = 0,
        TableFull = 1,
        BadTableId = 2,
        /// Overlapping flow with `CHECK_OVERLAP` set.
        Overlap = 3,
        Eperm = 4,
        BadTimeout = 5,
        BadCommand = 6,
        BadFlags = 7,
    }
}

open_enum! {
    /// `ofp_group_mod_failed_code` (`OFPET_GROUP_MOD_FAILED`).
    pub enum GroupModFailedCode: u16 {
        GroupExists = 0,
        InvalidGroup = 1,
        WeightUnsupported = 2,
        OutOfGroups = 3,
        OutOfBuckets = 4,
        ChainingUnsupported = 5,
        WatchUnsupported = 6,
        Loop = 7,
        UnknownGroup = 8,
        ChainedGroup = 9,
        BadType = 10,
        BadCommand = 11,
        BadBucket = 12,
        BadWatch = 13,
        Eperm = 14,
    }
}

open_enum! {
    /// `ofp_port_mod_failed_code` (`OFPET_PORT_MOD_FAILED`).
    pub enum PortModFailedCode: u16 {
        BadPort = 0,
        BadHwAddr = 1,
        BadConfig = 2,
        BadAdvertise = 3,
        Eperm = 4,
    }
}

open_enum! {
    /// `ofp_table_mod_failed_code` (`OFPET_TABLE_MOD_FAILED`).
    pub enum TableModFailedCode: u16 {
        BadTable = 0,
        BadConfig = 1,
        Eperm = 2,
    }
}

open_enum! {
    /// `ofp_queue_op_failed_code` (`OFPET_QUEUE_OP_FAILED`).
    pub enum QueueOpFailedCode: u16 {
        BadPort = 0,
        BadQueue = 1,
        Eperm = 2,
    }
}

open_enum! {
    /// `ofp_switch_config_failed_code` (`OFPET_SWITCH_CONFIG_FAILED`).
    pub enum SwitchConfigFailedCode: u16 {
        BadFlags = 0,
        BadLen = 1,
        Eperm = 2,
    }
}

open_enum! {
    /// `ofp_role_request_failed_code` (`OFPET_ROLE_REQUEST_FAILED`).
    pub enum RoleRequestFailedCode: u16 {
        /// Stale message: old generation id.
        Stale = 0,
        /// Controller role change unsupported.
        Unsup = 1,
        BadRole = 2,
    }
}

open_enum! {
    /// `ofp_meter_mod_failed_code` (`OFPET_METER_MOD_FAILED`).
    pub enum MeterModFailedCode: u16 {
        /// `OFPMMFC_UNKNOWN`, unspecified error (renamed: `Unknown(n)` holds codes without a name).
        Unspecified = 0,
        MeterExists = 1,
        InvalidMeter = 2,
        UnknownMeter = 3,
        BadCommand = 4,
        BadFlags = 5,
        BadRate = 6,
        BadBurst = 7,
        BadBand = 8,
        BadBandValue = 9,
        OutOfMeters = 10,
        OutOfBands = 11,
    }
}

open_enum! {
    /// `ofp_table_features_failed_code` (`OFPET_TABLE_FEATURES_FAILED`).
    pub enum TableFeaturesFailedCode: u16 {
        BadTable = 0,
        BadMetadata = 1,
        BadType = 2,
        BadLen = 3,
        BadArgument = 4,
        Eperm = 5,
    }
}
