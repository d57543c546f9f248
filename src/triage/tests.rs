//! Tests of the shipped rules file and the regulatory worked examples.
