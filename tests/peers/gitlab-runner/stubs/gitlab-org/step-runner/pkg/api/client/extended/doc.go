package extended
