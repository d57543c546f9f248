//! placeholder: exports (VEX, CSAF, reports) are being written.
