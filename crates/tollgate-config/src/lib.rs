#[cfg(test)]
mod scratch {
    #[test]
    fn probe() {
        use marked_yaml::{parse_yaml_with_options, LoaderOptions};
        let opts = || {
            LoaderOptions::default()
                .prevent_coercion(true)
                .error_on_duplicate_keys(true)
        };
        for text in [
            "",
            "# only\n",
            "---\n",
            "~",
            "a: *foo\n",
            "a: &x 1\nb: *x\n",
            "a:\nb: ~\nc: ''\n",
            "a: 1\n---\nb: [\n",
            "teams:\n  - name: x\n    depends_on:\n      - a\n    o: [a, 'b']\n",
            "a: 1\na: 2\n",
            "a: !!str 1\n",
            "a: [\n",
            "? [a]\n: 1\n",
            "- a\n",
        ] {
            println!(
                "{text:?} => {:#?}",
                parse_yaml_with_options(0, text, opts())
            );
        }
    }
}
