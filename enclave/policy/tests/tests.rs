mod smoke {
    #[test]
    fn t() {}
}
